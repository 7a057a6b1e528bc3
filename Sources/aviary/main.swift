import AviaryCommands

bootstrapLogging(label: "aviary")
AviaryCLI.main()
