"""The core: live state, services and storage shared by every face.

Nothing in here imports from ``drivers``, ``protocols`` or ``screens``.
"""
