"""The revisions, one line from the 0.1 schema to the current one."""
