"""HAL documents, HAL-FORMS templates and the link relations the hub uses."""
