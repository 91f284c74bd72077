"""api-gateway: the only public HTTP surface of callbridge."""
