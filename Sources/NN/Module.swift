// nn: modules, initialisers, optimisers.
import Torch
