"""`dask_executor`: dagster-dask's executor, with Dask task keys that are unique per run.

dagster-dask names each step's Dask task `<job name>.<step key>`. Dask runs one task per key, so
when two runs of the same job share a cluster (a backfill of `sharded_artifact_assets` parts: one
run per part, the same asset job), the second run is handed the first run's result and marked
successful without running its step (dagster-io/dagster#21418): a part would silently be missing.
This executor adds the run id to the key and is otherwise dagster-dask's, with the same config:

    from dataset_assets.dagster.dask import dask_executor      # pip install "dataset-assets[dask]"
    Definitions(..., executor=dask_executor.configured({"cluster": {"existing": {"address": "tcp://scheduler:8786"}}}))

Importing this module imports dagster-dask; `dataset_assets.dagster` does not import it.
"""

import copy
import functools

from dagster import executor, multiple_process_executor_requirements
from dagster_dask.executor import DaskExecutor
from dagster_dask.executor import dask_executor as _upstream


class RunScopedDaskExecutor(DaskExecutor):
    def execute(self, plan_context, execution_plan):
        scoped = copy.copy(plan_context)
        scoped.__class__ = _run_scoped(type(plan_context))  # only `job_name`, which names the Dask tasks, changes
        return super().execute(scoped, execution_plan)


@functools.cache
def _run_scoped(context_class: type) -> type:
    class RunScopedContext(context_class):
        @property
        def job_name(self) -> str:
            return f"{super().job_name}.{self.dagster_run.run_id}"

    return RunScopedContext


@executor(name="dask", requirements=multiple_process_executor_requirements(), config_schema=_upstream.config_schema.as_field().config_type)
def dask_executor(init_context):
    """dagster-dask's `dask_executor` (same config: `cluster: {existing: {address: ...}}`, `local`, `kube`, ...), one Dask key per run and step."""
    ((cluster_type, cluster_configuration),) = init_context.executor_config["cluster"].items()
    return RunScopedDaskExecutor(cluster_type, cluster_configuration)
