"""ESP data plane: packet transform, replay window, SA state, SAD."""
