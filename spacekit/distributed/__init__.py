"""Scale-out on Ray (the optional `ray` extra): encode into a store with a pool of encoder actors, and exact top-k
over a store's shards spread across workers. Nothing on the single-machine path imports this package."""
