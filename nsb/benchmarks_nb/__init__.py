"""NeuroBench task re-implementations run end to end on nsb (protocol, baselines, report).

``nsb.benchmarks_nb.mackey_glass``: chaotic function prediction (NeuroBench v1.0, §3.4 of the
reference), LSTM and ESN baselines next to an nsb spiking model. See ``docs/mackey_glass.md``.
"""
