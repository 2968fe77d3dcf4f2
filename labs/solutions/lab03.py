# Solution to lab 03: two replicas (one is always left), one per node (a lost node takes only one),
# and clients that retry (requests in flight to the lost replica are sent again).
NUM_REPLICAS = 2
MAX_REPLICAS_PER_NODE = 1
CLIENT_RETRIES = True
