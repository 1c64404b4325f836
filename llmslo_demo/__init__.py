"""`llmslo demo`: the whole pipeline on one machine, from a real vLLM to a paged SLO breach.

It wires the packages together through their command lines, the way an operator deploys them, so the
demo exercises the same entry points as production and none of their internals.
"""
