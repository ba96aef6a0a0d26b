"""Expected failures the CLI turns into a message and exit code 1 (kept free of Spark imports)."""


class IngestAborted(Exception):
    """The batch could not be committed (e.g. a file changed while it was read); it was rolled back."""
