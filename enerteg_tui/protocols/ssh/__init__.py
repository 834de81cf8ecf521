"""The SSH face: an asyncssh server that routes each channel to the topic shell, an
exec script, the full-screen console or the SFTP file tree (see ``server.py``)."""
