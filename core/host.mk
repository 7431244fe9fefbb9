# core/shm_table.c, shm_bucket.c, host_limiter.c: scope = host, one budget
# per resource shared by every process of a user on a machine, in a table
# in shared memory (/dev/shm/rlc-<uid>-<namespace>), lock-free, no daemon.
#
# test_host forks processes that hammer, cut, pause and get SIGKILLed at
# random instants; every table it makes is in a private temporary directory.

CORE_SRC += core/shm_table.c core/shm_bucket.c core/host_limiter.c

TESTS += test_host
