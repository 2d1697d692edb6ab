"""The lock side of FlexiSpace: the MQTT protocol, the gateway loop and the simulated fleet."""
