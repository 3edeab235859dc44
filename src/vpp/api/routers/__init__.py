"""One router per audience: enterprises, events, capability, simulations, tokens."""
