"""The tags of the pool's messages to a worker process (`local.py` sends, `worker.py` reads).

Its own module so that the pool need not import `worker.py`: `python -m` would then find the
worker module imported already and warn at every start.
"""

RUN, STOP, END = b"R", b"S", b"E"  # + a pickled TrainRequest; + a job id; end
