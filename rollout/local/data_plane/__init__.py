"""The local data plane: a stand-in for the load balancer and the compute behind it."""
