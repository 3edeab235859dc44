"""Hardware-in-the-loop simulation: device physics and simulated gateways."""
