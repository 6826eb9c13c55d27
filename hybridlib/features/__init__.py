"""Features of materials: composition features (Magpie, Ward 2016) and CGCNN atom features."""
from .atoms import CGCNN_ATOM_FEATURE_DIM, cgcnn_atom_features, feature_names
from .composition import PRESETS, composition_features, feature_labels, featurize_frame

__all__ = ["PRESETS", "composition_features", "feature_labels", "featurize_frame",
           "CGCNN_ATOM_FEATURE_DIM", "cgcnn_atom_features", "feature_names"]
