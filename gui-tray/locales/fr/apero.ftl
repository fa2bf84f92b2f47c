# La fenêtre d'apero, en français. Un message par ligne ; { $name } est rempli par l'application.
app-title = apero
offline-starting = Démarrage d'apero…
offline-not-running = apero n'est pas lancé.
offline-retrying = Nouvel essai toutes les quelques secondes.
offline-start = Lancer apero
connected-as = Vous êtes { $name }

welcome-title = Bienvenue dans apero
welcome-intro = Appels, messages et fichiers entre amis, directement de votre ordinateur au leur.
welcome-name = Comment vos amis vous appellent-ils ?
welcome-continue = Continuer

sound-title = Votre micro et votre haut-parleur
sound-intro = Parlez : la barre bouge quand votre micro vous entend.
sound-level = Niveau du micro
sound-speak = Votre micro fonctionne : dites quelque chose.
sound-speaking = Votre voix passe bien.
sound-silent = Rien ne vient de ce micro : est-il coupé, ou un autre est-il branché ?
sound-test = Tester mon micro
sound-test-stop = Arrêter le test
sound-test-hint = Dites quelques mots : vous vous entendrez une seconde plus tard, comme vos amis vous entendront.
sound-in-call = Pendant un appel, votre niveau s'affiche dans le panneau de l'appel ; quittez l'appel pour tester votre micro.
sound-input-missing = Micro : { $error }
sound-output-missing = Haut-parleur : { $error }
sound-continue = Continuer

rooms = Salons
room-create = Nouveau salon
room-create-name = Nom du salon
room-create-confirm = Créer
room-leave = Quitter le salon
room-leave-confirm = Quitter { $room } ? Il vous faudra un nouveau code pour revenir.
room-members = { $online } sur { $members } en ligne
room-unread = { $count ->
    [one] { $count } nouveau message
   *[other] { $count } nouveaux messages
}
no-rooms = Vous n'êtes dans aucun salon. Créez-en un, ou rejoignez celui d'un ami avec le code qu'il vous a envoyé.
pick-room = Choisissez un salon à gauche.

join = Rejoindre avec un code
join-code = Code d'invitation
join-hint = Collez le code long, ou tapez le code court (comme 7-guitar-orbit).
join-confirm = Rejoindre
joining = Connexion… cela peut prendre jusqu'à une minute.
join-done = Vous avez rejoint { $room }.
err-invalid-code = Ce code n'est pas valable. Vérifiez-le et réessayez.
err-expired = Ce code a expiré. Demandez-en un nouveau à votre ami.
err-revoked = Ce code a été retiré. Demandez-en un nouveau à votre ami.
err-already-used = Ce code a déjà servi. Demandez-en un nouveau à votre ami.
err-unreachable = Personne de ce salon n'est joignable. Demandez à votre ami de garder apero ouvert, puis réessayez.
err-already-member = Vous êtes déjà dans ce salon.
err-refused = Le salon a refusé ce code.
cancel = Annuler
close = Fermer

invite = Inviter
invite-title = Inviter quelqu'un dans { $room }
invite-short = Code court, à lire au téléphone
invite-long = Code long, à envoyer par message ou courriel
invite-expiry = Valable
invite-once = Une seule personne peut s'en servir
invite-create = Créer un code
invite-code = Code d'invitation
invite-copy = Copier
invite-copied = Copié.
invite-expires = Valable jusqu'à { $time }.
minutes = { $n ->
    [one] { $n } minute
   *[other] { $n } minutes
}
hours = { $n ->
    [one] { $n } heure
   *[other] { $n } heures
}
days = { $n ->
    [one] { $n } jour
   *[other] { $n } jours
}

chat-message = Message
chat-send = Envoyer
chat-empty = Pas encore de message. Dites bonjour !
chat-you = Vous
share-file = Partager un fichier
share-choose = Choisir un fichier…
share-no-chooser = Aucun sélecteur de fichiers ici : tapez le chemin du fichier ci-dessous, ou déposez le fichier sur la fenêtre.
share-path = Fichier à partager
share-confirm = Partager
share-drop = Ou déposez des fichiers sur la fenêtre.
file-offered = { $name } a partagé un fichier
file-download = Télécharger
file-cancel = Arrêter
file-open-folder = Ouvrir le dossier
file-progress = { $done } sur { $size }
file-done = Téléchargé
file-failed = Échec du téléchargement : { $error }
file-waiting = En attente de quelqu'un qui l'a

call = Appel
call-join = Rejoindre l'appel
call-leave = Quitter l'appel
call-mute = Couper le micro
call-unmute = Rétablir le micro
call-muted = Micro coupé
call-speaking = parle
call-in-room = { $count ->
    [one] { $count } personne dans l'appel
   *[other] { $count } personnes dans l'appel
}
call-nobody = Personne n'est dans l'appel.
call-volume = Volume de { $name }
call-quality-good = bonne
call-quality-lossy = avec pertes
call-quality-relayed = relayée
call-path-direct = directe
call-path-relayed = relayée
call-no-mic = Pas de micro : vous pouvez écouter mais pas parler. { $error }
call-no-speaker = Pas de haut-parleur : on ne peut pas entendre les autres. { $error }
call-elsewhere = Vous êtes dans l'appel de { $room }.
level = Niveau de votre micro

settings = Réglages
settings-language = Langue
settings-language-system = Comme le système
settings-input = Micro
settings-output = Haut-parleur
settings-default-device = Par défaut
settings-login = Lancer apero à l'ouverture de session
settings-login-failed = Impossible de changer le lancement à l'ouverture de session : { $error }
settings-notifications = Me prévenir des messages, appels et fichiers dans :
settings-mute-shortcut = Tant que l'icône d'apero est dans la barre, Ctrl+Alt+M coupe et rétablit le micro depuis n'importe où (bureaux X11). Sous Wayland, ou pour une autre touche, ajoutez dans les réglages de votre bureau un raccourci clavier qui lance cette commande :
settings-mute-command = Commande du raccourci micro
settings-theme = Apparence
settings-theme-system = Comme le système
settings-theme-light = Claire
settings-theme-dark = Sombre

error = Un problème est survenu : { $error }
dismiss = Fermer
