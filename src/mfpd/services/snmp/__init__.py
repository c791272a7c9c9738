"""SNMP: the agent on UDP 161, its MIBs served live from the device, and notifications."""
