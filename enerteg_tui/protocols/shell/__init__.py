"""The Unix-like topic shell of manual §11.1: commands, line editing, the _data editor."""
