# The fields of a slots dataclass (the wire's Frame and bodies, straja.protocol) in C: their
# places in the object come from their member descriptors. The decoder makes frames so
# (straja._framing), and the gateway's lane and the sweep stages read a SWEEP frame's fields so,
# a few dozen a frame, where an attribute look-up from C costs as much as a sweep's CFAR.

from cpython.object cimport PyObject
from cpython.ref cimport Py_INCREF, Py_XDECREF

from straja.protocol import Frame, Sweep

cdef extern from "structmember.h":
    ctypedef struct PyMemberDef:
        Py_ssize_t offset

cdef extern from "Python.h":
    ctypedef struct PyMemberDescrObject:
        PyMemberDef* d_member


cdef Py_ssize_t slot_offset(cls, str name) except -1:
    """Where the field `name` of the slots dataclass cls is in its objects."""
    descr = cls.__dict__[name]
    if type(descr).__name__ != "member_descriptor":
        raise ImportError(f"{cls.__name__}.{name} is not a slot")
    return (<PyMemberDescrObject*>descr).d_member.offset


cdef inline object slot(object obj, Py_ssize_t offset, str name):
    """The field at `offset` of obj, an object of the class the offset is of (its field
    `name`: for the error of a field never set)."""
    cdef PyObject* value = (<PyObject**>((<char*><PyObject*>obj) + offset))[0]
    if value == NULL:
        raise AttributeError(name)
    return <object>value


cdef inline object field(object obj, object cls, Py_ssize_t offset, str name):
    """obj.name: read in place when obj is a cls (offset: of its field `name`), else looked up."""
    return slot(obj, offset, name) if type(obj) is cls else getattr(obj, name)


cdef inline int set_field(object obj, object cls, Py_ssize_t offset, str name,
                          object value) except -1:
    """obj.name = value: in place when obj is a cls (offset: of its field `name`), else set."""
    cdef PyObject** place
    cdef PyObject* old
    if type(obj) is not cls:
        setattr(obj, name, value)
        return 0
    place = <PyObject**>((<char*><PyObject*>obj) + offset)
    old = place[0]
    Py_INCREF(value)
    place[0] = <PyObject*>value
    Py_XDECREF(old)  # (after the store: what its release runs sees the new value)
    return 0


# the fields the gateway's lane and the sweep stages read of a SWEEP frame, in place
cdef Py_ssize_t F_TYPE = slot_offset(Frame, "type"), F_NODE_ID = slot_offset(Frame, "node_id")
cdef Py_ssize_t F_SEQ = slot_offset(Frame, "seq"), F_T_US = slot_offset(Frame, "t_us")
cdef Py_ssize_t F_BODY = slot_offset(Frame, "body")
cdef Py_ssize_t S_FRONT_END = slot_offset(Sweep, "front_end"), S_FLAGS = slot_offset(Sweep, "flags")
cdef Py_ssize_t S_START_KHZ = slot_offset(Sweep, "start_khz")
cdef Py_ssize_t S_STEP_KHZ = slot_offset(Sweep, "step_khz")
cdef Py_ssize_t S_DURATION_US = slot_offset(Sweep, "duration_us")
cdef Py_ssize_t S_FIRST = slot_offset(Sweep, "first"), S_TOTAL = slot_offset(Sweep, "total")
cdef Py_ssize_t S_RSSI = slot_offset(Sweep, "rssi")
