import AviaryCommands

bootstrapLogging(label: "aviary-server")
ServerCommand.main()
