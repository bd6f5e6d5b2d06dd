"""Multi-fidelity evaluation: score a prefix of each objective's examples, promote the contenders.

- :mod:`.scoring`: a trial at a fidelity, on the worker; a promotion scores
  only the examples it adds to those its parent scored.
- :mod:`.budget`: example counts per objective and the cost of a trial.
- :mod:`.rounds`: the campaign's side: which trials to promote and which new
  points to screen (:mod:`mmmo.search.proposers.multi_fidelity` decides).
"""
