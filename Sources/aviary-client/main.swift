import AviaryCommands

bootstrapLogging(label: "aviary-client")
ClientCommand.main()
