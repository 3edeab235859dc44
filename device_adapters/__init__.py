"""Device adapters: how setpoints reach field gateways (MQTT) or the simulator."""
