"""The Modbus TCP server face: a published register map, optional writes.

``service.ModbusService`` follows ``config/modbus`` and starts or stops the server
without a restart; pymodbus is imported only when the server is enabled (``server``).
``modbus_map.csv`` is the one source of truth for addresses (``regmap`` reads it and
renders docs/modbus-registers.md); ``face`` answers reads from the core's live state per
request, ``writes`` carries out writes through the same core calls as the shell, and
``errors`` maps the core's error tree to Modbus exception codes. docs/modbus.md is the
integration guide.
"""
