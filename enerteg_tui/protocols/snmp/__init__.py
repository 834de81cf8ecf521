"""The SNMP agent face: ENERTEG-PDU-MIB and the system group over SNMPv1/v2c/v3.

``service.SnmpAgentService`` follows ``config/snmp_agent`` and starts or stops the agent
without a restart; pysnmp is imported only when the agent is enabled (``agent``). The
values come from the core's live state per request (``tree``), SETs go through the same
core calls as the shell (``writes``), and ``errors`` maps the core's error tree to SNMP
error-status. docs/snmp.md is the integration guide.
"""
