"""The host backend's machinery: a real single-node Kubernetes built and run on this Linux machine.

build   the binaries, from their upstream Go modules (host/<name>/), cached outside the repository
pki     the cluster's certificates and kubeconfigs
images  the container images, built here (nothing is pulled) and imported into containerd
network the bridge, the pods' addresses and the sysctls, all named with config.HOST_PREFIX
cluster the processes, started in order and waited for, stopped by PID
"""
