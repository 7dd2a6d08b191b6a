"""Error types shared by every layer; the CLI turns InputError into one line and exit code 2."""


class InputError(ValueError):
    """Bad user input (file, line or id, and what is wrong): the CLI prints it as one line and exits 2."""


class StoreError(InputError):
    """An embedding store that cannot be used as asked: corrupt shard, incomplete, or a different cache key."""
