"""Device-aware planning (runner layer): per-class compression, noise, batch and participation.

:func:`plan` reads a devices file (:func:`load_devices`) and chooses, per device class, the
settings that meet the class's certified ε and its memory, compute-time and uplink budgets while
minimising a stated error bound (:mod:`fltheory.plan.optimize`).  :mod:`fltheory.plan.validate`
runs a plan in the engine against a uniform recipe and the per-client sampling / noise
heuristics of the literature.

Examples
--------
>>> from fltheory.plan import plan
>>> p = plan("experiments/devices/heterogeneous.toml")   # doctest: +SKIP
"""

from fltheory.plan.devices import DeviceClass, DevicesSpec, load_devices
from fltheory.plan.optimize import ClassPlan, Plan, plan

__all__ = ["DeviceClass", "DevicesSpec", "load_devices", "ClassPlan", "Plan", "plan"]
