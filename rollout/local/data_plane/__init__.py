"""The local data plane: a stand-in for the Application Load Balancer, as moto is for the
control plane. Per cohort, a listener on a loopback port (``serving``) routes each request
as ALB would by the listener's state read from moto (``routing``, ``watcher``), forwards it
to the local process standing in for the chosen target (``proxy``), each colour's code run
from its artefact (``colour_processes``, ``lambda_host``), and publishes ALB's metrics to
CloudWatch (``alb_metrics``). A test double, in the ``[local]`` extra only."""
