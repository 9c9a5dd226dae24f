"""Data folders and team databases of earlier releases, upgraded by this one."""
