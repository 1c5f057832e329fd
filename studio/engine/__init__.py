"""The shared engine: jobs, pool, device, training loop, run registry, checkpoints.

No Qt, and no import of any other ``studio`` package.  torch is imported lazily so
that importing the engine is cheap (the GUI shows its window before torch loads).
"""
from studio.engine.jobs import (  # noqa: F401
    CANCELLED, DONE, FAILED, QUEUED, RUNNING, Cancelled, Job, JobContext, JobEvent, JobPool, RunSpec, UserError,
)
from studio.engine.registry import RunRecord, RunRegistry, studio_home  # noqa: F401
