"""EnerTEG TUI: the controller for a databus ring of rack PDUs.

One process and one asyncio loop hold the core (poller, live state, topics, audit,
permissions, storage), the drivers that talk to PDUs, and the faces operators use
(SSH console, topic shell, serial console, network protocol servers).
"""

__version__ = "0.1.0"
