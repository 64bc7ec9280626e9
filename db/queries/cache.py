"""SQL for the response cache."""

# The number that changes with every committed change to the records (migration 0004).
DATA_VERSION = "SELECT n FROM data_version"
