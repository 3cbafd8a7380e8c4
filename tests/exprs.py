"""Random expression programs for property tests, runnable on minidl Values and
on torch tensors alike (both spell the ops the same way).

A program is a list of (op, i, j, c): apply `op` to pool entries i and j (and
the constant c), append the result to the pool. Inputs start the pool. Every op
keeps its arguments inside its domain, so any program is well defined.
"""
from hypothesis import strategies as st

UNARY = {
    "neg": lambda a, c: -a,
    "relu": lambda a, c: a.relu(),
    "sigmoid": lambda a, c: a.sigmoid(),
    "tanh": lambda a, c: a.tanh(),
    "exp": lambda a, c: a.tanh().exp(),
    "log": lambda a, c: (a * a + 0.5).log(),
    "pow_number": lambda a, c: (a * a + 0.1) ** c,
    "radd": lambda a, c: c + a,
    "rsub": lambda a, c: c - a,
    "rmul": lambda a, c: c * a,
    "rdiv": lambda a, c: c / (a * a + 0.5),
    "rpow": lambda a, c: 2.0 ** a.tanh(),
    "square": lambda a, c: a ** 2,
}
BINARY = {
    "add": lambda a, b, c: a + b,
    "sub": lambda a, b, c: a - b,
    "mul": lambda a, b, c: a * b,
    "div": lambda a, b, c: a / (b * b + 0.5),
    "max": lambda a, b, c: a.max(b),
    "pow_value": lambda a, b, c: (a * a + 0.5) ** b.tanh(),
}
ALL_OPS = sorted(UNARY) + sorted(BINARY)


@st.composite
def programs(draw, max_inputs=4, max_ops=8):
    """(input values, program) pairs."""
    n_in = draw(st.integers(1, max_inputs))
    xs = draw(st.lists(st.floats(-2.0, 2.0), min_size=n_in, max_size=n_in))
    prog = []
    for k in range(draw(st.integers(1, max_ops))):
        op = draw(st.sampled_from(ALL_OPS))
        i = draw(st.integers(0, n_in + k - 1))
        j = draw(st.integers(0, n_in + k - 1))
        c = draw(st.floats(-2.0, 3.0))
        prog.append((op, i, j, c))
    return xs, prog


def run(prog, *inputs):
    """Evaluates the program; the output sums every op's result so each one counts."""
    pool = list(inputs)
    for op, i, j, c in prog:
        if op in UNARY:
            pool.append(UNARY[op](pool[i], c))
        else:
            pool.append(BINARY[op](pool[i], pool[j], c))
    return sum(pool[len(inputs):])


def near_kink(root, margin=1e-4) -> bool:
    """True when a relu or max in the graph sits within `margin` of its kink,
    where a central difference straddles two slopes."""
    for node in root.topological_order():
        if node._op == "relu" and abs(node._prev[0].data) < margin:
            return True
        if node._op == "max" and abs(node._prev[0].data - node._prev[1].data) < margin:
            return True
    return False
