# The engine's views of a network (Architecture: sizes, activations, the weight layout) and of
# rows (Dataset: dense or CSR values, labels, targets, sample weights), with the shape checks
# made before C sees a pointer, and the sizes of the scratch buffers they need; included by
# _core.pyx: plumbing only, as the rest of the bridge.


cdef fnn_index _pad_units(dtype) except -1:
    dtype = np.dtype(dtype)
    if dtype == np.float64:
        return FNN_PAD_UNITS_F64
    if dtype == np.float32:
        return FNN_PAD_UNITS_F32
    raise TypeError(f"the engine computes in float32 or float64, not {dtype}")


def padded_width(Py_ssize_t n_out, dtype):
    """Columns a layer of ``n_out`` units occupies in the engine's weight buffer (zero padded).

    Parameters
    ----------
    n_out : int
    dtype : float64 or float32
        The padding is one 32-byte vector: 4 float64 or 8 float32 columns.
    """
    if n_out < 1:
        raise ValueError("a layer needs at least one unit")
    cdef fnn_net net
    net.pad_units = _pad_units(dtype)
    return fnn_padded_width(&net, n_out)


cdef class Architecture:
    """Layer sizes, hidden activations and output type, as the engine sees them, with the weight
    layout computed once (``fnn_layout``) for every call that uses the architecture.

    Parameters
    ----------
    sizes : sequence of int
        ``[n_features, hidden_1, ..., n_outputs]``; at least two entries, all >= 1.
    output : {OUTPUT_SOFTMAX, OUTPUT_SIGMOID, OUTPUT_MULTILABEL, OUTPUT_IDENTITY}
        Softmax over ``sizes[-1] >= 2`` classes, one sigmoid unit (``sizes[-1] == 1``), or
        ``sizes[-1]`` independent sigmoids or identity units.
    dtype : float64 or float32, default=float64
        The weights' type, which sets the padding of the layout (see :func:`padded_width`).
    activations : sequence of int or None, default=None
        One ``ACTIVATION_*`` code per hidden layer (``len(sizes) - 2``); None: all logistic.
    """
    cdef fnn_net net
    cdef readonly object sizes, dtype, activations, widths, offsets

    def __cinit__(self, sizes, int output, dtype=np.float64, activations=None):
        self.dtype = np.dtype(dtype)
        self.net.pad_units = _pad_units(self.dtype)
        self.sizes = np.ascontiguousarray(sizes, dtype=np.intp)
        if self.sizes.ndim != 1 or self.sizes.shape[0] < 2:
            raise ValueError("sizes must list at least the input and the output layer")
        # the engine's index arithmetic (fnn_index) must not overflow: check in Python integers
        listed = self.sizes.tolist()
        unit = self.net.pad_units
        weights = sum((a + 1) * (-(-b // unit) * unit) for a, b in zip(listed, listed[1:]))  # padded layout
        if min(self.sizes) < 1 or weights > (1 << 57):  # 2^57 weights: 1 EiB of float64
            raise ValueError(f"layer sizes {self.sizes.tolist()} are not positive or too large for the engine")
        cdef const fnn_index[::1] view = self.sizes
        self.net.n_layers = <int>(view.shape[0] - 1)
        self.net.sizes = &view[0]
        self.net.output = output
        n_hidden = view.shape[0] - 2
        if activations is None:
            activations = [FNN_ACTIVATION_LOGISTIC] * n_hidden
        self.activations = np.ascontiguousarray(activations, dtype=np.intc)
        if self.activations.shape != (n_hidden,):
            raise ValueError(f"{self.activations.size} activations for {n_hidden} hidden layers")
        cdef const int[::1] activation_view = self.activations
        self.net.activation = &activation_view[0] if n_hidden else NULL
        self.widths = np.zeros(view.shape[0], dtype=np.intp)
        self.offsets = np.zeros(view.shape[0], dtype=np.intp)
        cdef fnn_index[::1] widths = self.widths
        cdef fnn_index[::1] offsets = self.offsets
        status = fnn_layout(&self.net, &widths[0], &offsets[0])
        if status == FNN_ERROR_SIZE or fnn_weight_count(&self.net) < 0 or fnn_work_size(&self.net) < 0:
            raise ValueError(f"layer sizes {self.sizes.tolist()} are too large for the engine")
        _raise_for_status(status)

    @property
    def output(self):
        """The output type (an ``OUTPUT_*`` code)."""
        return self.net.output

    @property
    def n_weights(self):
        """Number of elements of the flat weight buffer."""
        return fnn_weight_count(&self.net)

    def layer_offset(self, int layer):
        """Offset of ``layer`` in the flat weight buffer (``layer == n_layers`` gives the total)."""
        if layer < 0 or layer > self.net.n_layers:
            raise IndexError(f"layer {layer} out of range")
        return fnn_layer_offset(&self.net, layer)


def work_size(Architecture arch):
    """Elements of the scratch buffer of the per-sample functions (``fnn_work_size``).

    Raises
    ------
    ValueError
        The count does not fit in the engine's index range.
    """
    cdef fnn_index size = fnn_work_size(&arch.net)
    if size < 0:
        raise ValueError(f"layer sizes {arch.sizes.tolist()} are too large for the engine")
    return size


def batch_work_size(Architecture arch, batch_size, n_rows, bint sparse_input):
    """Elements of the scratch buffer of a batched call over ``n_rows`` rows in batches of ``batch_size``.

    A batch larger than the rows the call visits is those rows: the buffer is sized for
    ``min(batch_size, n_rows)`` rows (``fnn_batch_work_size``); CSR input needs no room for
    gathered input rows, so its buffer grows with the hidden and output layers only.

    Parameters
    ----------
    arch : Architecture
    batch_size, n_rows : int
        Any non-negative Python integers (``batch_size >= 1``).
    sparse_input : bool

    Raises
    ------
    ValueError
        ``batch_size < 1``, or the buffer would not fit in memory addresses (its size in bytes
        exceeds the index range); the message says which batch size was asked for.
    """
    if batch_size < 1:
        raise ValueError(f"batch_size must be >= 1, got {batch_size}")
    rows = min(batch_size, max(n_rows, 1))
    itemsize = arch.dtype.itemsize
    cdef fnn_index size = -1
    if rows <= sys.maxsize:  # fnn_index is Py_ssize_t
        size = fnn_batch_work_size(&arch.net, <fnn_index>rows, sparse_input)
    if size < 0 or size > sys.maxsize // itemsize:
        raise ValueError(f"batches of {rows} rows of layer sizes {arch.sizes.tolist()} need a work buffer "
                         "larger than the address space; use a smaller batch_size")
    return size


cdef class Dataset:
    """Rows for the engine: dense row-major or CSR, with optional labels and sample weights.

    Parameters
    ----------
    values : ndarray of float32 or float64, 1-D, C-contiguous
        Dense: the ``(n_rows, n_features)`` matrix raveled. CSR: the stored entries.
    n_rows, n_features : int
    indptr, indices : ndarray of intp or None
        CSR structure (both or neither).
    labels : ndarray of int32, shape (n_rows,), or None
    sample_weight : ndarray, shape (n_rows,), same dtype as ``values``, or None
    """
    cdef fnn_data_f64 c64
    cdef fnn_data_f32 c32
    cdef readonly object values, indptr, indices, labels, targets, sample_weight, dtype
    cdef readonly Py_ssize_t n_rows, n_features

    def __cinit__(self, values, Py_ssize_t n_rows, Py_ssize_t n_features, indptr=None,
                  indices=None, labels=None, sample_weight=None, targets=None):
        if n_rows < 1 or n_features < 1:
            raise ValueError(f"a dataset needs at least one row and one feature, got ({n_rows}, {n_features})")
        # the kernels load whole numbers: an array whose data are not aligned to its type (a view
        # into a byte buffer at an odd offset, say) is copied once, here
        values, indptr, indices, labels, sample_weight, targets = [
            None if array is None else np.require(array, requirements="A")
            for array in (values, indptr, indices, labels, sample_weight, targets)
        ]
        if targets is not None and (targets.ndim != 2 or targets.shape[0] != n_rows
                                    or not targets.flags.c_contiguous or targets.dtype != values.dtype):
            raise ValueError(f"targets must be a C-contiguous ({n_rows}, K) array of the values' dtype")
        self.values, self.indptr, self.indices = values, indptr, indices
        self.labels, self.sample_weight, self.targets = labels, sample_weight, targets
        self.n_rows, self.n_features = n_rows, n_features
        self.dtype = values.dtype
        if self.dtype == np.float64:
            self._fill[double](self.values)
        elif self.dtype == np.float32:
            self._fill[float](self.values)
        else:
            raise TypeError(f"values must be float32 or float64, got {self.dtype}")

    cdef int _fill_structure(self, const fnn_index **indptr, const fnn_index **indices,
                             const int32_t **labels, Py_ssize_t n_values) except -1:
        cdef const fnn_index[::1] indptr_view
        cdef const fnn_index[::1] indices_view
        cdef const int32_t[::1] label_view
        if (self.indptr is None) != (self.indices is None):
            raise ValueError("CSR data needs both indptr and indices")
        cdef Py_ssize_t r
        if self.indptr is None:
            if n_values != <object>self.n_rows * <object>self.n_features:  # in Python integers: no wrap
                raise ValueError(f"dense values hold {n_values} numbers, expected {self.n_rows} x {self.n_features}")
            indptr[0] = NULL
            indices[0] = NULL
        else:
            indptr_view = self.indptr
            indices_view = self.indices
            if indptr_view.shape[0] != self.n_rows + 1:
                raise ValueError("indptr must have n_rows + 1 entries")
            if indptr_view[0] != 0 or indptr_view[self.n_rows] != n_values \
                    or indices_view.shape[0] != n_values:
                raise ValueError("indptr, indices and values of the CSR data disagree")
            for r in range(self.n_rows):
                if indptr_view[r + 1] < indptr_view[r]:
                    raise ValueError("indptr of the CSR data must not decrease")
            indptr[0] = &indptr_view[0]
            indices[0] = &indices_view[0] if n_values else NULL
        labels[0] = NULL
        if self.labels is not None:
            label_view = self.labels
            if label_view.shape[0] != self.n_rows:
                raise ValueError(f"{label_view.shape[0]} labels for {self.n_rows} rows")
            labels[0] = &label_view[0]
        return 0

    cdef int _fill(self, const floating[::1] values) except -1:
        """Point the engine's view of the rows of the values' type (``c64`` or ``c32``) at the arrays."""
        cdef const floating[::1] weights
        cdef const floating[:, ::1] targets
        cdef const floating *targets_ptr = NULL
        cdef const floating *weights_ptr = NULL
        if floating is double:
            self._fill_structure(&self.c64.indptr, &self.c64.indices, &self.c64.labels, values.shape[0])
        else:
            self._fill_structure(&self.c32.indptr, &self.c32.indices, &self.c32.labels, values.shape[0])
        if self.targets is not None and self.targets.size:
            targets = self.targets
            targets_ptr = &targets[0, 0]
        if self.sample_weight is not None:
            weights = self.sample_weight
            if weights.shape[0] != self.n_rows:
                raise ValueError("sample_weight must have one entry per row")
            weights_ptr = &weights[0]
        if floating is double:
            self.c64.values = &values[0] if values.shape[0] else NULL
            self.c64.n_rows, self.c64.n_features = self.n_rows, self.n_features
            self.c64.targets, self.c64.sample_weight = targets_ptr, weights_ptr
        else:
            self.c32.values = &values[0] if values.shape[0] else NULL
            self.c32.n_rows, self.c32.n_features = self.n_rows, self.n_features
            self.c32.targets, self.c32.sample_weight = targets_ptr, weights_ptr
        return 0
