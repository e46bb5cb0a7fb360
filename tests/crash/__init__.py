"""The SIGKILL crash campaign: a real worker process killed at random moments, then checked."""
