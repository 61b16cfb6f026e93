"""The built-in local NemoVideo backend (`jupiter sim`, `--offline`, the tests).

A loopback server that speaks every endpoint of NEMO_PROTOCOL.md, with a scripted,
seed-deterministic agent that edits real timeline drafts and renders real MP4 files, plus fault
knobs (`Faults`) to rehearse what the real service does on a bad day. It is strict where the
real service is (attribution headers, token scopes and limits, languages, render bodies): see
`core.sim.strict`, so a client that passes here does not fail on the first real call.
"""

from core.sim.app import LocalBackend, serve_forever
from core.sim.faults import Faults, add_fault_arguments, faults_from_args

__all__ = ["Faults", "LocalBackend", "add_fault_arguments", "faults_from_args", "serve_forever"]
