enum GatewayProtoModule {}
