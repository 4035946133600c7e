import ArgumentParser

@main
struct Portcullis: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "portcullis",
        abstract: "An API gateway for APIs behind an L7 load balancer that forwards client certificates in a header.",
        discussion: """
            Every option can also be given as an environment variable PORTCULLIS_<OPTION>, e.g. --admin-listen as \
            PORTCULLIS_ADMIN_LISTEN. A flag on the command line wins over the environment.
            """,
        subcommands: [UpCommand.self, ControlPlaneCommand.self, DataPlaneCommand.self, ConfigCommand.self, SnapshotsCommand.self]
    )
}
