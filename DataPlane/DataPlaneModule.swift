enum DataPlaneModule {}
