; Inno Setup 6 script: a Windows installer for the one-folder bundle.
; NOT TESTED HERE (the project's machines run Linux); see packaging/README.md.
;
; Built by packaging\build_windows.ps1, which passes the version:
;   iscc /DAppVersion=0.1.0 packaging\texstudio.iss
; Paths are relative to this file. Output: dist\texstudio-<version>-windows-x64-setup.exe

#ifndef AppVersion
  #error Pass the version: iscc /DAppVersion=X.Y.Z packaging\texstudio.iss (build_windows.ps1 does)
#endif
#ifndef BundleDir
  #define BundleDir "..\dist\texstudio"
#endif

[Setup]
AppId={{6F1C3A52-4E7B-4C1E-9B0A-6D2E3F8A9C41}
AppName=texstudio
AppVersion={#AppVersion}
AppVerName=texstudio {#AppVersion}
AppPublisher=texstudio
AppComments=Neural texture synthesis: learn seamless textures from a photo
DefaultDirName={autopf}\texstudio
DefaultGroupName=texstudio
DisableProgramGroupPage=yes
; Per-user install without admin rights, or for all users: the user chooses.
PrivilegesRequired=lowest
PrivilegesRequiredOverridesAllowed=dialog
ArchitecturesAllowed=x64compatible
ArchitecturesInstallIn64BitMode=x64compatible
OutputDir=..\dist
OutputBaseFilename=texstudio-{#AppVersion}-windows-x64-setup
SetupIconFile=..\resources\icons\texstudio.ico
UninstallDisplayIcon={app}\texstudio.exe
WizardStyle=modern
Compression=lzma2/max
SolidCompression=yes
; PyPI's Windows torch is CPU-only, so the bundle is about 1 GB and fits one setup.exe.
; A bundle built with a CUDA torch (several GB) needs DiskSpanning=yes (setup.exe + .bin files).

[Tasks]
Name: "desktopicon"; Description: "{cm:CreateDesktopIcon}"; GroupDescription: "{cm:AdditionalIcons}"

[Files]
Source: "{#BundleDir}\*"; DestDir: "{app}"; Flags: ignoreversion recursesubdirs createallsubdirs

[Icons]
Name: "{autoprograms}\texstudio"; Filename: "{app}\texstudio.exe"; Comment: "Neural texture synthesis"
Name: "{autodesktop}\texstudio"; Filename: "{app}\texstudio.exe"; Tasks: desktopicon

[Run]
Filename: "{app}\texstudio.exe"; Description: "{cm:LaunchProgram,texstudio}"; Flags: nowait postinstall skipifsilent

; Uninstalling removes the program folder only. Settings (%LOCALAPPDATA%\texstudio\texstudio),
; downloaded weights and trained models stay, as a reinstall should find them.
