"""Scoring as the flows and the command run it: the collectability champion in this process, or
on a Dask cluster when DEBTFLOW_DASK_ADDRESS is set (the models themselves know nothing of Dask)."""
