"""callbridge presence: extension states by SIP SUBSCRIBE/NOTIFY."""
