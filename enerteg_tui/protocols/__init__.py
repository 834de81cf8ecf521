"""Faces reached over the network or a line: SSH, shell, serial, SNMP, Modbus, HTTP."""
