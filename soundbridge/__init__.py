"""soundbridge application layer: the command line (and, later, the dashboard).

The library lives in the layered packages ``loaders`` ← ``kg`` ← ``audio``/``gnn`` ← ``recsys``;
this package only wires them to users.
"""

__all__: list[str] = []
