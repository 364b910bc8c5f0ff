"""Fully connected networks trained by backpropagation: the NumPy algorithm.

A :class:`Network` is its layer sizes ``(d, h_1, ..., h_L, k)``, the hidden
activation and the output.  All parameters live in one flat vector ``theta =
[W_1 .. W_{L+1}, b_1 .. b_{L+1}]`` (each ``W_l`` row-major, fan-in x fan-out),
so that one optimizer update serves every layer and the weights (penalized)
come before the biases (not penalized), as in the linear models.

Forward: ``A_0 = X``, ``Z_l = A_{l-1} W_l + b_l``, ``A_l = act(Z_l)`` for the
hidden layers, the output ``Z_{L+1}`` goes to the loss:

* ``"logistic"`` (two classes): ``l = log(1 + exp(z)) - y z``, ``dl/dz = sigmoid(z) - y``;
* ``"softmax"`` (k >= 3 classes): ``l = logsumexp(z) - z_y``, ``dl/dz = softmax(z) - onehot(y)``;
* ``"identity"`` (regression, k targets): ``l = mean_c (z_c - y_c)^2 / 2``, ``dl/dz = (z - y) / k``.

Backward, with ``delta = s (dl/dZ) / S`` (sample weights ``s``, ``S = sum s``):
``grad W_l = A_{l-1}^T delta``, ``grad b_l = sum_rows delta``, then
``delta = (delta W_l^T) * act'(A_{l-1})`` for the layer below, the derivative
written with the activation's output: identity 1, logistic ``a (1 - a)``,
tanh ``1 - a^2``, relu ``[a > 0]``.  Arithmetic is in X's dtype; sums of the
loss in float64.
"""

from dataclasses import dataclass, field

import numpy as np

ACTIVATIONS = ("identity", "logistic", "tanh", "relu")
OUTPUTS = ("logistic", "softmax", "identity")


def activate(name, Z):
    """``act(Z)`` in place; returns ``Z``."""
    if name == "logistic":
        np.negative(Z, out=Z)
        np.exp(Z, out=Z)
        Z += 1
        np.reciprocal(Z, out=Z)
    elif name == "tanh":
        np.tanh(Z, out=Z)
    elif name == "relu":
        np.maximum(Z, 0, out=Z)
    return Z


def derivative(name, A):
    """``act'`` written with the activation's output ``A``."""
    if name == "logistic":
        return A * (1 - A)
    if name == "tanh":
        return 1 - A * A
    if name == "relu":
        return (A > 0).astype(A.dtype)
    return np.ones_like(A)


def output_loss(output, Z, y):
    """Per-sample loss (float64) and ``dl/dZ`` (Z's dtype) of the output ``Z`` (n, k)."""
    Z64 = Z.astype(np.float64)
    if output == "logistic":
        z, yy = Z64[:, 0], y.astype(np.float64)
        loss = np.logaddexp(0.0, z) - yy * z
        dZ = (0.5 * (1 + np.tanh(0.5 * z)) - yy)[:, None]  # sigmoid, stable
    elif output == "softmax":
        top = Z64.max(axis=1, keepdims=True)
        lse = top[:, 0] + np.log(np.exp(Z64 - top).sum(axis=1))
        rows, labels = np.arange(len(Z)), y.astype(np.intp)
        loss = lse - Z64[rows, labels]
        dZ = np.exp(Z64 - lse[:, None])
        dZ[rows, labels] -= 1.0
    else:
        diff = Z64 - y.reshape(len(Z), -1)
        loss = 0.5 * np.mean(diff * diff, axis=1)
        dZ = diff / Z.shape[1]
    return loss, dZ.astype(Z.dtype)


@dataclass
class Network:
    """Layer sizes ``(d, h_1, ..., h_L, k)``, the hidden activation and the output; it records,
    for each hidden layer, which units were active (output non-zero) since :meth:`diagnostics`."""

    sizes: tuple
    activation: str
    output: str
    active: list = field(default=None, repr=False)

    @property
    def n_weights(self):
        return sum(a * b for a, b in zip(self.sizes[:-1], self.sizes[1:]))

    @property
    def n_params(self):
        return self.n_weights + sum(self.sizes[1:])

    def unpack(self, theta):
        """Views ``([W_1 ..], [b_1 ..])`` of the flat ``theta``."""
        weights, biases, start = [], [], 0
        for a, b in zip(self.sizes[:-1], self.sizes[1:]):
            weights.append(theta[start:start + a * b].reshape(a, b))
            start += a * b
        for b in self.sizes[1:]:
            biases.append(theta[start:start + b])
            start += b
        return weights, biases

    def initial(self, random_state, dtype):
        """scikit-learn's initialization (Glorot uniform, the factor 2 for logistic units, else 6),
        drawn in scikit-learn's order from ``random_state`` (a ``numpy.random.RandomState``)."""
        theta = np.empty(self.n_params, dtype=dtype)
        weights, biases = self.unpack(theta)
        factor = 2.0 if self.activation == "logistic" else 6.0
        for W, b in zip(weights, biases):
            bound = np.sqrt(factor / (W.shape[0] + W.shape[1]))
            W[...] = random_state.uniform(-bound, bound, W.shape)
            b[...] = random_state.uniform(-bound, bound, b.shape)
        return theta

    def forward(self, X, theta, record=False):
        """The activations ``[X, A_1, .., A_L, Z_out]``; with ``record``, notes the active hidden units."""
        weights, biases = self.unpack(theta)
        layers = [X]
        for depth, (W, b) in enumerate(zip(weights, biases)):
            Z = layers[-1] @ W
            Z += b
            if depth < len(weights) - 1:
                activate(self.activation, Z)
                if record:
                    self._note_active(depth, Z)
            layers.append(Z)
        return layers

    def note_active(self, active):
        """Add a compiled epoch's record: ``active`` (uint8) flags the hidden units, layer after layer."""
        start = 0
        for depth, width in enumerate(self.sizes[1:-1]):
            self._note_active(depth, active[start:start + width][None, :])
            start += width

    def _note_active(self, depth, A):
        if self.active is None:
            self.active = [np.zeros(h, dtype=bool) for h in self.sizes[1:-1]]
        self.active[depth] |= (A != 0).any(axis=0)

    def loss_grad(self, X, y, sample_weight, theta, grad, record=False):
        """Weighted mean loss at ``theta``; its gradient written into ``grad`` (backpropagation)."""
        layers = self.forward(X, theta, record)
        loss_i, delta = output_loss(self.output, layers[-1], y)
        if sample_weight is None:
            total, loss = len(X), float(np.sum(loss_i)) / len(X)
        else:
            total = float(np.sum(sample_weight, dtype=np.float64))
            loss = float(np.dot(sample_weight.astype(np.float64), loss_i)) / total
            delta *= sample_weight[:, None]
        delta /= delta.dtype.type(total)
        weights, _ = self.unpack(theta)
        grad_weights, grad_biases = self.unpack(grad)
        for depth in range(len(weights) - 1, -1, -1):
            np.matmul(layers[depth].T, delta, out=grad_weights[depth])
            np.sum(delta, axis=0, out=grad_biases[depth])
            if depth > 0:
                delta = (delta @ weights[depth].T) * derivative(self.activation, layers[depth])
        return loss

    def diagnostics(self, grad):
        """Per layer: the gradient norm (weights and biases) and, for ReLU layers, the fraction of
        dead units (inactive on every sample seen since the last call); resets the record."""
        grad_weights, grad_biases = self.unpack(grad)
        result = {}
        for depth, (gW, gb) in enumerate(zip(grad_weights, grad_biases)):
            g = np.concatenate([gW.ravel(), gb]).astype(np.float64)
            result[f"grad_norm_layer{depth + 1}"] = float(np.linalg.norm(g))
        if self.activation == "relu":
            for depth in range(len(self.sizes) - 2):
                active = None if self.active is None else self.active[depth]
                result[f"dead_fraction_layer{depth + 1}"] = float("nan") if active is None else 1.0 - active.mean()
        self.active = None
        return result
